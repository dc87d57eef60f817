"""HTTP plumbing shared by every blueprint: errors, authentication, request logging, health."""
