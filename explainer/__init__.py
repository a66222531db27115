"""App-side helpers for the Streamlit story: cached artifact loaders, the palette, Altair chart
builders, the paper's reference values and small page widgets. Nothing here imports torch, so the
story pages start fast; the live lab imports `training` lazily on the pages that retrain.
"""
