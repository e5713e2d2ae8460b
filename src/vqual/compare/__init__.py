"""Full-reference metrics: a distorted picture or video judged against its source (`vqual compare`)."""
