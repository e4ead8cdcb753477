module github.com/sluicegw/sluice/sdk

go 1.26.0
