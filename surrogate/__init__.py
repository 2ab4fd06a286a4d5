"""nasrepro.surrogate."""
