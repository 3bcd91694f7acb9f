"""Book content of chapters 1-5 that is not a model family: NumPy references and small demos.

Chapters 1-2 (no book code): `neurons`, `gradient_descent`, `backprop`, `regularization`,
`toy_data`; chapter 3: `tf_basics` (the TF1 listings in TF2); chapter 4: `landscape` (error
surfaces, momentum, curvature); chapter 5: `convolution` (output sizes, the Fig. 5.11 layer,
pooling). Their figures are drawn by `fdl_tf2.viz`.
"""
