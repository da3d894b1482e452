"""Workflow Builder custom steps: each module registers one `app.function` listener."""
