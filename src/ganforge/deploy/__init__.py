"""Taking a model out of ganforge: ONNX graphs of every generator, a model card, and the fastest way to sample."""
