"""LicenseSpring webhooks: signature check, event mapping and the HTTP endpoint."""
