"""Services: use cases over the domain, through ports. No framework, no concrete adapter."""
