"""The `stockwire` command line."""
