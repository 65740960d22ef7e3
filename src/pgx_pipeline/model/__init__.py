"""Trained drug-response models (warfarin first): features, training, evaluation, model card, safe storage, prediction."""
