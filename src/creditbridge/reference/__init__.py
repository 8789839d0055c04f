"""National standards as code: USCC (GB 32100), divisions (GB/T 2260), industries (GB/T 4754),
enterprise size (工信部联企业〔2011〕300号) and the China working-day calendar, with their data files.

Pure functions over packaged data; imports no domain module, no database, no web framework.
"""
