"""Authentication adapters: argon2 password hashes and signed JWT access and refresh tokens."""
