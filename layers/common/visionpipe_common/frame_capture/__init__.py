"""Frame capture: videos uploaded under video_inputs/ become JPEG frames the image flow judges.

Two engines give the same result (names, sizes, metadata): `mediaconvert` (a CreateJob per video;
frames arrive when the job finishes) and `opencv` (frames captured inside the function).
"""
