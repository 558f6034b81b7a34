"""Stages 03-04: the networks, their training, and one arm end to end; predict and Grad-CAM."""
