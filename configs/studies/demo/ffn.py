# An FFN row of the synthetic study: make demo-ffn's recipe
# (ffn_demo_synthetic.py: warm-started from make demo's TSM, 8 epochs); the
# ablations override one switch each.
_base_ = ['../../ffn_demo_synthetic.py']

default_hooks = dict(tfd=None)  # the study evaluates every row itself
