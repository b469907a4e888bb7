"""Feature networks the scores read: InceptionV3 (both weight layouts), the shipped digit classifiers, extractors."""
