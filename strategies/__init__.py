"""nasrepro.strategies."""
