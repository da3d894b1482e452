"""What every surface shares: context, policy, routes, dedupe, errors, replier, services."""
