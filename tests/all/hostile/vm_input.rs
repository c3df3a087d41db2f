//! fly.toml values cannot escape into nginx configs, host paths, env files or docker arguments.
