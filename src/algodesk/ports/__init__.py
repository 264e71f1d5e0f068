"""Ports: the interfaces (``typing.Protocol``) that services need and adapters provide."""
