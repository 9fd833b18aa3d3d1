module junction

go 1.24
