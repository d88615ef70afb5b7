"""Sim2Word: the attribute words that explain a similarity score, found by counterfactual erasing."""
