"""Management commands of the shopkit app."""
