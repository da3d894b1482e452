"""Channel alerts: pure rules and messages (`rules`, `messages`) and the worker that polls."""
