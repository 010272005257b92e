// PhigateConfig module.
