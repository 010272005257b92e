// PhiInference module.
