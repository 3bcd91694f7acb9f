"""Datasets: offline-first readers and tf.data pipelines, one module per dataset."""
