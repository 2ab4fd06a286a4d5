"""nasrepro.tables."""
