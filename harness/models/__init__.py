"""Models: .tflite files (parsing, inspection), their manifests, and the fit check."""
