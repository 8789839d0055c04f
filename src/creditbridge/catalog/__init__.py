"""The shared-data list (信用信息共享清单): versioned datasets, their fields, providers, update
frequency, classification level, disclosure class and publication periods."""
