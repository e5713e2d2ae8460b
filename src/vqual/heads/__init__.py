"""Light decoders on encoder features, and what turns their outputs into a prediction.

- `linear.LinearHead` and `mlp.MLPHead`: score / attribute heads on standardised features;
- `store`: the one head file format (``<prefix>.<array>`` in a ``.npz``, never pickled) for shipped and user heads;
- `levels`: the level head, P(level) from a cumulative logistic around a score;
- `pooling`: temporal pooling of per-second predictions (`pool_worst`);
- `prediction.Prediction`: what a model predicts for one image, one video second or a pooled video.
"""
