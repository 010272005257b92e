// GatewayServer module.
