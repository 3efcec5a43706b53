"""The event source mapping emulator: polls a DynamoDB stream and invokes a handler as Lambda does."""
