"""Pictures and video as data: model tensors to uint8 pictures and grids, and
whether video (PyAV) is available. Below the data layer, which uses both."""
