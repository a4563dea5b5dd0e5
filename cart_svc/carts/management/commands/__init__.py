"""Management commands of the carts app: the Kafka consumer."""
