"""Light decoders on encoder features."""
