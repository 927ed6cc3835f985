"""What an artist does with a trained model: sampling, the gallery, keyframed
walks, animations (time-lapse, process, morph, reconstruction) and exporting
stills and animations in every format."""
