"""Models: model files by format (.tflite, .onnx, .pte), their facts, manifests, the fit check, and
the model partition image the reference firmware reads."""
