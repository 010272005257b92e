// Backends module.
