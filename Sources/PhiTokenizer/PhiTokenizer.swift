// PhiTokenizer module.
