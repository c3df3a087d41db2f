//! Credentials go only where trusted config sends them: a pull request's ferry.toml cannot choose an endpoint for a credential.
