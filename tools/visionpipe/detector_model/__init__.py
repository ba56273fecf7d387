"""The edge detector's model: HOG + linear SVM training (hog_training), VOC mAP
(mean_average_precision) and the training job over SageMaker object-detection channels
(training_job). Local mode's SageMaker engine runs it; it depends on nothing of local mode."""
