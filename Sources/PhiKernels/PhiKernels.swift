// PhiKernels module.
