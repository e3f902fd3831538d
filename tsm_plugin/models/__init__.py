"""The networks: TSM, FFN, and the names of their weights.

* :mod:`.temporal_shift`: the pure temporal shift op (plain torch, no
  registry) and its module wrapper;
* :mod:`.tsm_resnet`: ``TSMResNet``, the TSM backbone;
* :mod:`.ffn_block`, :mod:`.ffn_resnet`: FFN's residual block and backbone,
  one branch at a time, as the paper writes them;
* :mod:`.ffn_fused`: FFN's training step, every branch in one pass;
* :mod:`.ffn_recognizer`, :mod:`.distillation_loss`: ``FFNRecognizer`` and
  its Temporal Distillation loss;
* :mod:`.flexible_recognizer`: ``FlexibleRecognizer2D``, a TSM trained on
  batches of several frame counts (FFN's Proportional Sampling);
* :mod:`.ensemble_recognizer`: ``EnsembleRecognizer``, trained models'
  predictions averaged (FFN's TSM-Ensemble);
* :mod:`.frame_counts`: a module's settable frame count, branch routing;
* :mod:`.state_dict_keys`: one naming of the weights of every codebase;
* :mod:`.pretrained`: a backbone's ``pretrained`` file, read and loaded;
* :mod:`.checkpoint_formats`: whole checkpoints loaded strictly.

The package imports nothing itself, so the shift op stays importable without
mmaction2's models; :mod:`tsm_plugin.registration` imports the modules that
register.
"""
