"""Anomalous-sound detection networks for DCASE task 2: the 2023 autoencoder baseline twin and
the outlier-exposure embedding detector (pure functions over features and explicit keys)."""
