"""An embedded LicenseSpring License API for demos, tests and benchmarks (like stripe-mock)."""

from bot.sandbox.app import SandboxState, create_sandbox_app, run_sandbox
from bot.sandbox.faults import Fault

__all__ = ["Fault", "SandboxState", "create_sandbox_app", "run_sandbox"]
