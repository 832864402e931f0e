// loader placeholder
