// OpenAIWire module.
