"""Who may do what: roles and the permissions they grant, local users and API tokens, and the audit
trail of what each identity did. The web layer authenticates against it; the CLI manages it."""
