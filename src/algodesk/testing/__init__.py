"""Test doubles and helpers shipped with the package: fakes, not mocks."""
