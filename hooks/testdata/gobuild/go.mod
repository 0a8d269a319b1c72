module example.com/mcupdatefake

go 1.21
