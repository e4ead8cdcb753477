module github.com/sluicegw/sluice/filters

go 1.26.0

require github.com/sluicegw/sluice/sdk v0.0.0

replace github.com/sluicegw/sluice/sdk => ../sdk
